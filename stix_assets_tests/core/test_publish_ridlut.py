"""RID LUT: reasons from the kit's LUT and the update from a local HTTP server."""

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from stix_assets.core.publish import read_rid_lut, update_rid_lut
from stix_assets.core.publish.ridlut import RidLut


@pytest.mark.realdata
def test_kit_lut_reasons(testdata: Path):
    lut = read_rid_lut(testdata / "tables" / "rid_lut.csv")
    assert len(lut) > 16000
    assert lut.get_reason(1166351952) == "Spike also seen with EUI"  # old column set
    assert lut.get_reason(42) == ""
    assert lut.get_scaling_factor(1166351952) == 30  # no scaling column -> default


def test_reason_and_scaling_current_columns():
    rows = (
        {"unique_id": "223", "subject": "subject", "purpose": "purpose", "comment": "r223 , c2",
         "scaling_factor": ""},
        {"unique_id": "223", "subject": "subject", "purpose": "purpose_again",
         "comment": "r223 , c2", "scaling_factor": ""},
        {"unique_id": "1", "subject": "", "purpose": "", "comment": "", "scaling_factor": "1234.0"},
    )  # fmt: skip
    lut = RidLut(rows)
    assert lut.get_reason(223) == "subject, purpose, r223 , c2 subject, purpose_again, r223 , c2"
    assert lut.get_scaling_factor(1) == 1234
    with pytest.raises(ValueError, match="found 2 times"):
        lut.get_scaling_factor(223)


class _Api(BaseHTTPRequestHandler):
    """Answers /api/bsd/info/<start>/<end> with the requests starting in that window."""

    requests: list[str] = []

    def do_GET(self):
        type(self).requests.append(self.path)
        start, end = self.path.rstrip("/").split("/")[-2:]
        rows = [
            {"_id": 7, "unique_id": 2001010001, "start_utc": "2020-01-10T00:00:00", "duration": 60,
             "type": "L1", "subject": "flare", "purpose": "test", "scaling_factor": 4,
             "ior_id": None, "comment": "c"},
        ]  # fmt: skip
        body = [r for r in rows if start <= r["start_utc"][:10].replace("-", "") < end]
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_update_from_local_api(tmp_path: Path):
    server = HTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        path = tmp_path / "rid_lut.csv"
        path.write_text(
            '"_id","unique_id","start_utc","duration","type","description"\n'
            '"1","1166351952","2019-12-20T20:30:00","720","Aspect","old row"\n'
        )
        url = f"http://127.0.0.1:{server.server_port}/api/bsd/info/"
        lut = update_rid_lut(path, url, today=date(2020, 2, 1), pause_s=0.0)
    finally:
        server.shutdown()
        server.server_close()
    # windows from the latest start_utc of the file (2019-12-20) to today, 30 days each
    assert _Api.requests == ["/api/bsd/info/20191220/20200119", "/api/bsd/info/20200119/20200218"]
    assert lut.get_reason(2001010001) == "flare, test, c"
    assert lut.get_scaling_factor(2001010001) == 4
    again = read_rid_lut(path)
    assert len(again) == 2
    assert again.get_reason(1166351952) == "old row"
