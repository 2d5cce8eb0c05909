"""Downloads against a local HTTP server (with Range support written here), and unpacking."""

import hashlib
import http.server
import re
import socket
import subprocess
import sys
import threading
import zipfile

import pytest

from higherhrnet.data import download as dl
from higherhrnet.data.download import coco_layout, download, unpack_coco, verify_state_dict
from higherhrnet.errors import WorkflowError

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes
MD5 = hashlib.md5(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD at /file. Behaviour switches live on the server object."""

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        srv = self.server
        srv.requests.append(self.headers.get("Range"))
        if self.path != "/file":
            self.send_error(404, "Not Found")
            return
        start = 0
        m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if m and srv.honour_range:
            start = int(m.group(1))
            if start >= len(PAYLOAD):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.drop_after is not None:  # send part of the body, then cut the connection
            cut, srv.drop_after = srv.drop_after, None
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.requests, srv.honour_range, srv.drop_after = [], True, None
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/file"
    yield srv
    srv.shutdown()
    srv.server_close()


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_empty_md5_means_unknown(server, tmp_path):
    download(server.url, tmp_path / "f.bin", md5="")
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_full_download_verified(server, tmp_path, capsys):
    dest = tmp_path / "sub" / "f.bin"
    assert download(server.url, dest, size=len(PAYLOAD), md5=MD5) == dest
    assert dest.read_bytes() == PAYLOAD and not (tmp_path / "sub" / "f.bin.part").exists()
    assert "download f.bin: 0.1 MB of 0.1 MB (100.0%)" in capsys.readouterr().err
    # a verified file is kept as is: no second request
    download(server.url, dest, size=len(PAYLOAD), md5=MD5)
    assert server.requests == [None]


def test_resume_with_range(server, tmp_path):
    dest = tmp_path / "f.bin"
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:30_000])
    download(server.url, dest, size=len(PAYLOAD), md5=MD5)
    assert server.requests == ["bytes=30000-"]
    assert dest.read_bytes() == PAYLOAD


def test_server_without_range_restarts(server, tmp_path):
    server.honour_range = False
    (tmp_path / "f.bin.part").write_bytes(b"x" * 500)
    download(server.url, tmp_path / "f.bin", size=len(PAYLOAD), md5=MD5)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_complete_part_is_verified_without_refetch(server, tmp_path):
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD)
    download(server.url, tmp_path / "f.bin", size=len(PAYLOAD), md5=MD5)
    assert server.requests == []
    # unknown size: the server answers 416 to the range past the end; md5 decides
    (tmp_path / "g.bin.part").write_bytes(PAYLOAD)
    download(server.url, tmp_path / "g.bin", md5=MD5)
    assert server.requests == [f"bytes={len(PAYLOAD)}-"] and (tmp_path / "g.bin").exists()


def test_interrupted_transfer_resumes(server, tmp_path, monkeypatch):
    monkeypatch.setattr(dl.time, "sleep", lambda s: None)
    server.drop_after = 40_000
    download(server.url, tmp_path / "f.bin", size=len(PAYLOAD), md5=MD5)
    assert server.requests[0] is None and server.requests[1] == "bytes=40000-"
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_interrupted_without_retries_keeps_part(server, tmp_path):
    server.drop_after = 40_000
    with pytest.raises(WorkflowError, match="could not fetch") as exc:
        download(server.url, tmp_path / "f.bin", size=len(PAYLOAD), md5=MD5, retries=0)
    assert "f.bin.part is resumed on the next run" in str(exc.value)
    assert (tmp_path / "f.bin.part").stat().st_size == 40_000
    assert not (tmp_path / "f.bin").exists()
    download(server.url, tmp_path / "f.bin", size=len(PAYLOAD), md5=MD5)  # resumes
    assert server.requests[-1] == "bytes=40000-"


def test_checksum_failure_leaves_nothing(server, tmp_path):
    with pytest.raises(WorkflowError, match=f"md5 {MD5}, expected 0123") as exc:
        download(server.url, tmp_path / "f.bin", md5="0123" + "0" * 28)
    assert "partial file was deleted" in str(exc.value)
    assert list(tmp_path.iterdir()) == []


def test_size_failure_leaves_nothing(server, tmp_path):
    with pytest.raises(WorkflowError, match="size 102,400 bytes, expected 99"):
        download(server.url, tmp_path / "f.bin", size=99)
    assert list(tmp_path.iterdir()) == []


def test_verify_callback_gates_rename(server, tmp_path):
    def refuse(path):
        raise WorkflowError("not a checkpoint")

    with pytest.raises(WorkflowError, match="not a checkpoint"):
        download(server.url, tmp_path / "w.pth", verify=refuse)
    assert list(tmp_path.iterdir()) == []


def test_existing_wrong_file_is_an_error(server, tmp_path):
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"old")
    with pytest.raises(WorkflowError, match=r"existing file .*f\.bin: size 3 bytes"):
        download(server.url, dest, size=len(PAYLOAD))
    assert dest.read_bytes() == b"old" and server.requests == []


def test_no_network_message(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/val2017.zip"
    dest = tmp_path / "resources" / "val2017.zip"
    with pytest.raises(WorkflowError) as exc:
        download(url, dest, size=815_585_330, md5="442b8da7639aecaf257c1dceb8ba8c80")
    msg = str(exc.value)
    assert f"could not fetch {url}" in msg and "refused" in msg.lower()
    assert f"put it at {dest}" in msg and "815,585,330 bytes" in msg and "md5 442b8da7" in msg
    assert not dest.exists()


def test_http_error(server, tmp_path):
    with pytest.raises(WorkflowError, match="HTTP 404"):
        download(server.url.replace("/file", "/missing"), tmp_path / "f.bin")


def test_cli(server, tmp_path, root):
    script = str(root / "scripts" / "download.py")
    out = tmp_path / "f.bin"
    r = subprocess.run([sys.executable, script, "--url", server.url, "--output", str(out),
                        "--md5", MD5, "--size", str(len(PAYLOAD))], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == PAYLOAD
    r = subprocess.run([sys.executable, script, "--url", f"http://127.0.0.1:{_closed_port()}/x",
                        "--output", str(tmp_path / "x")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("error: could not fetch")


def test_constants():
    assert dl.COCO_VAL2017_IMAGES.size == 815_585_330
    assert dl.COCO_ANNOTATIONS_TRAINVAL2017.md5 == "f4bbac642086de4f52a3fdda2de5fa2c"
    assert dl.HIGHERHRNET_W32_512_WEIGHTS.url.endswith("/pose_higher_hrnet_w32_512.pth")


def test_verify_state_dict(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    sd = {"a.weight": torch.zeros(4, 3), "a.bias": torch.zeros(4),
          "bn.num_batches_tracked": torch.tensor(0)}
    torch.save(sd, tmp_path / "plain.pth")
    torch.save({"state_dict": {f"module.{k}": v for k, v in sd.items()}, "epoch": 3},
               tmp_path / "ckpt.pth")
    with pytest.raises(WorkflowError, match="has 2 float tensors / 16 values"):
        verify_state_dict(tmp_path / "plain.pth")
    monkeypatch.setattr(dl, "W32_FLOAT_TENSORS", 2)
    monkeypatch.setattr(dl, "W32_FLOAT_VALUES", 16)
    verify_state_dict(tmp_path / "plain.pth")
    verify_state_dict(tmp_path / "ckpt.pth")
    (tmp_path / "junk.pth").write_bytes(b"<html>not found</html>")
    with pytest.raises(WorkflowError, match="does not load as a torch checkpoint"):
        verify_state_dict(tmp_path / "junk.pth")


# ------------------------------------------------------------------ unpacking

def _zips(tmp_path):
    images = tmp_path / "val2017.zip"
    with zipfile.ZipFile(images, "w") as zf:
        zf.writestr("val2017/", "")
        zf.writestr("val2017/000000000139.jpg", b"jpeg-139")
        zf.writestr("val2017/000000000285.jpg", b"jpeg-285")
        zf.writestr("val2017/../evil.jpg", b"no")  # never written outside the folder
    anns = tmp_path / "annotations_trainval2017.zip"
    with zipfile.ZipFile(anns, "w") as zf:
        zf.writestr("annotations/person_keypoints_val2017.json", b'{"images": []}')
        zf.writestr("annotations/instances_val2017.json", b"{}")
    return images, anns


def test_unpack_into_guide_layout(tmp_path):
    images, anns = _zips(tmp_path)
    root = tmp_path / "data" / "coco"
    ann_path, img_dir = unpack_coco(images, anns, root)
    assert (ann_path, img_dir) == coco_layout(root)
    assert ann_path == root / "annotations" / "person_keypoints_val2017.json"
    assert ann_path.read_bytes() == b'{"images": []}'
    assert sorted(p.name for p in img_dir.iterdir()) == ["000000000139.jpg", "000000000285.jpg"]
    assert not (root / "annotations" / "instances_val2017.json").exists()
    assert not (root / "images" / "evil.jpg").exists() and not (tmp_path / "evil.jpg").exists()
    # again: replaces the folder, leaves no temporary folders behind
    unpack_coco(images, anns, root)
    assert sorted(p.name for p in (root / "images").iterdir()) == ["val2017"]


def test_unpack_bad_zips(tmp_path):
    images, anns = _zips(tmp_path)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(WorkflowError, match=r"bad\.zip: not a readable zip"):
        unpack_coco(images, bad, tmp_path / "r")
    with pytest.raises(WorkflowError, match="has no annotations/person_keypoints_val2017.json"):
        unpack_coco(images, images, tmp_path / "r")
    with pytest.raises(WorkflowError, match=r"has no val2017/\*\.jpg"):
        unpack_coco(anns, anns, tmp_path / "r")
    with pytest.raises(WorkflowError, match="file not found"):
        unpack_coco(tmp_path / "nope.zip", anns, tmp_path / "r")
