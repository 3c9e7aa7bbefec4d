// Choices shared by forms and filters: regions, stages, collaboration, visibility, events.
import { t, lang } from "./i18n.js";
import { get } from "./api.js";

export const REGIONS = ["KR-11", "KR-26", "KR-27", "KR-28", "KR-29", "KR-30", "KR-31", "KR-50",
  "KR-41", "KR-42", "KR-43", "KR-44", "KR-45", "KR-46", "KR-47", "KR-48", "KR-49"];
export const STAGES = ["pre-seed", "seed", "series-a", "series-b", "series-c+", "public"];
export const COLLABORATION = ["poc", "joint-development", "investment", "procurement", "licensing"];
export const VISIBILITY = ["public", "members", "confidential"];
export const EVENTS = ["match.created", "match.updated", "interest.received", "match.connected",
  "demand.closed", "saved_search.hit"];

// KSIC names from GET /v1/taxonomy (read once): code -> [ko, en].
const ksic = new Map();
export async function loadTaxonomy() {
  if (ksic.size) return;
  try {
    const tax = await get("/v1/taxonomy");
    for (const s of tax.sections || []) {
      ksic.set(s.code, [s.name_ko, s.name_en]);
      for (const d of s.divisions || []) ksic.set(d.code, [d.name_ko, d.name_en]);
    }
  } catch (e) { /* codes stay codes */ }
}

export function label(group, value) {
  if (group === "industry" && ksic.has(value)) return `${value} ${ksic.get(value)[lang() === "en" ? 1 : 0]}`;
  return t.has(`${group}.${value}`) ? t(`${group}.${value}`) : value;
}
export const regionOptions = (none = true) => [...(none ? [["", t("any")]] : []), ...REGIONS.map((r) => [r, label("region", r)])];
export const stageOptions = (none = true) => [...(none ? [["", t("any")]] : []), ...STAGES.map((s) => [s, label("stage", s)])];
export const checks = (group, values) => values.map((v) => [v, label(group, v)]);
