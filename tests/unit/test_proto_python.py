"""proto/ compiles with Google's protoc for Python and round-trips the messages other systems
use (the ingest protocol and the wire header), so a non-C publisher can be written."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oimtest import proto_modules  # noqa: E402


class ProtoPythonTest(unittest.TestCase):
    def test_every_proto_compiles_and_round_trips(self):
        with tempfile.TemporaryDirectory() as out:
            mods = proto_modules(out)
            self.assertGreaterEqual(len(mods), 8)
            ingest = mods["ingest"]
            batch = ingest.IngestBatch(batch_id="b1", api_key="k")
            ev = batch.events.add(source_system="kosme", external_id="x1", sequence=3, op="upsert",
                                  org_ref="1234567890")
            ev.demand.title = "배터리 재활용 기술"
            ev.demand.tags.extend(["battery", "재활용"])
            data = batch.SerializeToString()
            back = ingest.IngestBatch.FromString(data)
            self.assertEqual(back.events[0].demand.title, "배터리 재활용 기술")
            wire = mods["wire"]
            header = wire.Header(signature=0x4F494D31, version=1, command=wire.COMMAND_REQUEST,
                                 service="registry", correlation_id=2**63)
            self.assertEqual(wire.Header.FromString(header.SerializeToString()).correlation_id, 2**63)
            change = mods["changelog"].ChangeEntry(entity_type="org", op=mods["changelog"].CHANGE_OP_CREATE)
            change.org.name = "OI"
            self.assertEqual(change.WhichOneof("entity"), "org")


if __name__ == "__main__":
    unittest.main(verbosity=2)
