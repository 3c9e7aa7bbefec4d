/*  registry_taxonomy — the KSIC (Korean Standard Industrial Classification, 10th revision)
    sections A–U and their two-digit divisions, with Korean and English names. Organizations'
    and demands' `industries` must be a section code ("C") or a division code written with its
    section ("C26"); GET /v1/taxonomy serves this table. Read-only data: no mutable state.
*/
#include "registry.h"

typedef struct {
    const char *code;       //  "C" (section) or "C26" (division)
    const char *name_ko;
    const char *name_en;
} ksic_t;

static const ksic_t s_ksic [] = {
    { "A", "농업, 임업 및 어업", "Agriculture, forestry and fishing" },
    { "A01", "농업", "Agriculture" },
    { "A02", "임업", "Forestry" },
    { "A03", "어업", "Fishing" },
    { "B", "광업", "Mining and quarrying" },
    { "B05", "석탄, 원유 및 천연가스 광업", "Mining of coal, crude petroleum and natural gas" },
    { "B06", "금속 광업", "Mining of metal ores" },
    { "B07", "비금속광물 광업; 연료용 제외", "Mining of non-metallic minerals, except fuel" },
    { "B08", "광업 지원 서비스업", "Mining support service activities" },
    { "C", "제조업", "Manufacturing" },
    { "C10", "식료품 제조업", "Manufacture of food products" },
    { "C11", "음료 제조업", "Manufacture of beverages" },
    { "C12", "담배 제조업", "Manufacture of tobacco products" },
    { "C13", "섬유제품 제조업; 의복 제외", "Manufacture of textiles, except apparel" },
    { "C14", "의복, 의복 액세서리 및 모피제품 제조업", "Manufacture of wearing apparel, clothing accessories and fur articles" },
    { "C15", "가죽, 가방 및 신발 제조업", "Manufacture of leather, luggage and footwear" },
    { "C16", "목재 및 나무제품 제조업; 가구 제외", "Manufacture of wood and products of wood, except furniture" },
    { "C17", "펄프, 종이 및 종이제품 제조업", "Manufacture of pulp, paper and paper products" },
    { "C18", "인쇄 및 기록매체 복제업", "Printing and reproduction of recorded media" },
    { "C19", "코크스, 연탄 및 석유정제품 제조업", "Manufacture of coke, briquettes and refined petroleum products" },
    { "C20", "화학 물질 및 화학제품 제조업; 의약품 제외", "Manufacture of chemicals and chemical products, except pharmaceuticals" },
    { "C21", "의료용 물질 및 의약품 제조업", "Manufacture of pharmaceuticals, medicinal chemicals and botanical products" },
    { "C22", "고무 및 플라스틱제품 제조업", "Manufacture of rubber and plastics products" },
    { "C23", "비금속 광물제품 제조업", "Manufacture of other non-metallic mineral products" },
    { "C24", "1차 금속 제조업", "Manufacture of basic metals" },
    { "C25", "금속 가공제품 제조업; 기계 및 가구 제외", "Manufacture of fabricated metal products, except machinery and furniture" },
    { "C26", "전자 부품, 컴퓨터, 영상, 음향 및 통신장비 제조업", "Manufacture of electronic components, computer, visual, audio and communication equipment" },
    { "C27", "의료, 정밀, 광학 기기 및 시계 제조업", "Manufacture of medical, precision and optical instruments, watches and clocks" },
    { "C28", "전기장비 제조업", "Manufacture of electrical equipment" },
    { "C29", "기타 기계 및 장비 제조업", "Manufacture of other machinery and equipment" },
    { "C30", "자동차 및 트레일러 제조업", "Manufacture of motor vehicles, trailers and semitrailers" },
    { "C31", "기타 운송장비 제조업", "Manufacture of other transport equipment" },
    { "C32", "가구 제조업", "Manufacture of furniture" },
    { "C33", "기타 제품 제조업", "Other manufacturing" },
    { "C34", "산업용 기계 및 장비 수리업", "Repair of industrial machinery and equipment" },
    { "D", "전기, 가스, 증기 및 공기 조절 공급업", "Electricity, gas, steam and air conditioning supply" },
    { "D35", "전기, 가스, 증기 및 공기 조절 공급업", "Electricity, gas, steam and air conditioning supply" },
    { "E", "수도, 하수 및 폐기물 처리, 원료 재생업", "Water supply; sewage, waste management and materials recovery" },
    { "E36", "수도업", "Water supply" },
    { "E37", "하수, 폐수 및 분뇨 처리업", "Sewage, wastewater and human waste treatment services" },
    { "E38", "폐기물 수집, 운반, 처리 및 원료 재생업", "Waste collection, transportation, treatment and disposal; materials recovery" },
    { "E39", "환경 정화 및 복원업", "Remediation activities and other waste management services" },
    { "F", "건설업", "Construction" },
    { "F41", "종합 건설업", "General construction" },
    { "F42", "전문직별 공사업", "Specialized construction activities" },
    { "G", "도매 및 소매업", "Wholesale and retail trade" },
    { "G45", "자동차 및 부품 판매업", "Sale of motor vehicles and parts" },
    { "G46", "도매 및 상품 중개업", "Wholesale trade on own account or on a fee or contract basis" },
    { "G47", "소매업; 자동차 제외", "Retail trade, except motor vehicles and motorcycles" },
    { "H", "운수 및 창고업", "Transportation and storage" },
    { "H49", "육상 운송 및 파이프라인 운송업", "Land transport and transport via pipelines" },
    { "H50", "수상 운송업", "Water transport" },
    { "H51", "항공 운송업", "Air transport" },
    { "H52", "창고 및 운송관련 서비스업", "Warehousing and support activities for transportation" },
    { "I", "숙박 및 음식점업", "Accommodation and food service activities" },
    { "I55", "숙박업", "Accommodation" },
    { "I56", "음식점 및 주점업", "Food and beverage service activities" },
    { "J", "정보통신업", "Information and communication" },
    { "J58", "출판업", "Publishing activities" },
    { "J59", "영상·오디오 기록물 제작 및 배급업", "Motion picture, video and audio recording production and distribution" },
    { "J60", "방송업", "Broadcasting activities" },
    { "J61", "우편 및 통신업", "Postal activities and telecommunications" },
    { "J62", "컴퓨터 프로그래밍, 시스템 통합 및 관리업", "Computer programming, consultancy and related activities" },
    { "J63", "정보서비스업", "Information service activities" },
    { "K", "금융 및 보험업", "Financial and insurance activities" },
    { "K64", "금융업", "Financial service activities, except insurance and pension funding" },
    { "K65", "보험 및 연금업", "Insurance and pension funding" },
    { "K66", "금융 및 보험관련 서비스업", "Activities auxiliary to financial service and insurance activities" },
    { "L", "부동산업", "Real estate activities" },
    { "L68", "부동산업", "Real estate activities" },
    { "M", "전문, 과학 및 기술 서비스업", "Professional, scientific and technical activities" },
    { "M70", "연구개발업", "Research and development" },
    { "M71", "전문 서비스업", "Professional services" },
    { "M72", "건축 기술, 엔지니어링 및 기타 과학기술 서비스업", "Architectural, engineering and other scientific technical services" },
    { "M73", "기타 전문, 과학 및 기술 서비스업", "Other professional, scientific and technical services" },
    { "N", "사업시설 관리, 사업 지원 및 임대 서비스업", "Business facilities management, business support and rental services" },
    { "N74", "사업시설 관리 및 조경 서비스업", "Business facilities management and landscape services" },
    { "N75", "사업 지원 서비스업", "Business support services" },
    { "N76", "임대업; 부동산 제외", "Rental and leasing activities, except real estate" },
    { "O", "공공 행정, 국방 및 사회보장 행정", "Public administration and defence; compulsory social security" },
    { "O84", "공공 행정, 국방 및 사회보장 행정", "Public administration and defence; compulsory social security" },
    { "P", "교육 서비스업", "Education" },
    { "P85", "교육 서비스업", "Education" },
    { "Q", "보건업 및 사회복지 서비스업", "Human health and social work activities" },
    { "Q86", "보건업", "Human health activities" },
    { "Q87", "사회복지 서비스업", "Social work activities" },
    { "R", "예술, 스포츠 및 여가관련 서비스업", "Arts, sports and recreation related services" },
    { "R90", "창작, 예술 및 여가관련 서비스업", "Creative, arts and recreation related services" },
    { "R91", "스포츠 및 오락관련 서비스업", "Sports activities and amusement activities" },
    { "S", "협회 및 단체, 수리 및 기타 개인 서비스업", "Membership organizations, repair and other personal services" },
    { "S94", "협회 및 단체", "Membership organizations" },
    { "S95", "개인 및 소비용품 수리업", "Maintenance and repair of personal and household goods" },
    { "S96", "기타 개인 서비스업", "Other personal service activities" },
    { "T", "가구 내 고용활동 및 달리 분류되지 않은 자가 소비 생산활동", "Activities of households as employers; undifferentiated goods- and services-producing activities of households for own use" },
    { "T97", "가구 내 고용활동", "Activities of households as employers of domestic personnel" },
    { "T98", "달리 분류되지 않은 자가 소비를 위한 가구의 재화 및 서비스 생산활동", "Undifferentiated goods- and services-producing activities of private households for own use" },
    { "U", "국제 및 외국기관", "Activities of extraterritorial organizations and bodies" },
    { "U99", "국제 및 외국기관", "Activities of extraterritorial organizations and bodies" },
    { NULL, NULL, NULL }
};

bool
registry_taxonomy_valid (const char *code)
{
    size_t len = strlen (code);
    if (len != 1 && len != 3)
        return false;
    for (const ksic_t *k = s_ksic; k->code; k++)
        if (strcmp (k->code, code) == 0)
            return true;
    return false;
}

//  {"version":"KSIC-10","sections":[{"code","name_ko","name_en","divisions":[{...}]}]}
json_t *
registry_taxonomy_json (void)
{
    json_t *sections = json_array (), *divisions = NULL;
    for (const ksic_t *k = s_ksic; k->code; k++) {
        json_t *entry = json_pack ("{s:s,s:s,s:s}", "code", k->code, "name_ko", k->name_ko,
                                   "name_en", k->name_en);
        if (strlen (k->code) == 1) {
            divisions = json_array ();
            json_object_set_new (entry, "divisions", divisions);
            json_array_append_new (sections, entry);
        }
        else
            json_array_append_new (divisions, entry);
    }
    return json_pack ("{s:s,s:o}", "version", "KSIC-10", "sections", sections);
}
