"""Media upload / metadata / download / delete and the resumable upload API."""

import hashlib

import requests

PNG = b"\x89PNG\r\n\x1a\n" + b"x" * 100


def upload(graph, data=PNG, mime="image/png", product="whatsapp"):
    return graph.post(
        "/1000001/media",
        data={"messaging_product": product, "type": mime},
        files={"file": ("receipt.png", data, mime)},
    )


def test_upload_get_download_delete(sb, graph):
    r = upload(graph)
    assert r.status_code == 200, r.text
    media_id = r.json()["id"]
    meta = graph.get(f"/{media_id}").json()
    assert meta["mime_type"] == "image/png" and meta["file_size"] == len(PNG)
    assert meta["sha256"] == hashlib.sha256(PNG).hexdigest() and meta["messaging_product"] == "whatsapp"
    assert meta["url"].startswith(sb.url)
    # the download URL needs the Bearer token
    assert requests.get(meta["url"], timeout=5).status_code == 401
    r = requests.get(meta["url"], headers={"Authorization": "Bearer sandbox-token"}, timeout=5)
    assert r.status_code == 200 and r.content == PNG and r.headers["Content-Type"] == "image/png"
    assert graph.delete(f"/{media_id}").json() == {"success": True}
    r = graph.get(f"/{media_id}")
    assert r.status_code == 400 and r.json()["error"]["code"] == 100


def test_upload_errors(sb, graph):
    r = upload(graph, mime="application/x-msdownload")
    assert r.status_code == 400 and r.json()["error"]["code"] == 131053
    r = upload(graph, data=b"x" * (5 * 1024 * 1024 + 1), mime="image/jpeg")
    assert r.status_code == 400 and "too large" in r.json()["error"]["error_data"]["details"]
    r = upload(graph, product="sms")
    assert r.status_code == 400 and r.json()["error"]["code"] == 100
    r = graph.post("/1000001/media", json={"messaging_product": "whatsapp"})
    assert r.status_code == 400


def test_inbound_media_is_downloadable(sb, graph):
    item = sb.add_media(b"%PDF-1.4 ...", "application/pdf", "in.pdf")
    meta = graph.get(f"/{item.id}").json()
    r = requests.get(meta["url"], headers={"Authorization": "Bearer sandbox-token"}, timeout=5)
    assert r.content == b"%PDF-1.4 ..."


def test_resumable_upload(sb, graph):
    data = b"JPEGDATA" * 10
    r = graph.post(
        "/3000001/uploads", params={"file_name": "h.jpg", "file_length": len(data), "file_type": "image/jpeg"}
    )
    assert r.status_code == 200, r.text
    upload_id = r.json()["id"]
    assert upload_id.startswith("upload:")
    url = f"{graph.url}/{upload_id}"
    # Bearer is refused for the data call: Meta wants "OAuth"
    r = requests.post(
        url, data=data, headers={"Authorization": "Bearer sandbox-token", "file_offset": "0"}, timeout=5
    )
    assert r.status_code == 400
    r = requests.post(url, data=data, headers={"Authorization": "OAuth wrong", "file_offset": "0"}, timeout=5)
    assert r.status_code == 401
    r = requests.post(
        url, data=data[:30], headers={"Authorization": "OAuth sandbox-token", "file_offset": "0"}, timeout=5
    )
    assert r.json() == {"id": upload_id, "file_offset": 30}
    assert (
        requests.get(url, headers={"Authorization": "OAuth sandbox-token"}, timeout=5).json()["file_offset"]
        == 30
    )
    r = requests.post(
        url, data=data[30:], headers={"Authorization": "OAuth sandbox-token", "file_offset": "30"}, timeout=5
    )
    handle = r.json()["h"]
    assert handle and sb.state.handles[handle]["data"] == data
    assert graph.post("/3000001/uploads", params={"file_name": "h.jpg"}).status_code == 400


def test_phone_endpoints(sb, graph):
    sb.update_account("1000001", quality_rating="YELLOW", throughput_level="HIGH", messaging_limit="TIER_10K")
    fields = (
        "verified_name,display_phone_number,quality_rating,throughput,name_status,code_verification_status"
    )
    info = graph.get(
        "/1000001", params={"fields": fields + ",whatsapp_business_manager_messaging_limit"}
    ).json()
    assert info == {
        "id": "1000001",
        "verified_name": "Sandbox Co",
        "display_phone_number": "+1 555 000 0001",
        "quality_rating": "YELLOW",
        "throughput": {"level": "HIGH"},
        "whatsapp_business_manager_messaging_limit": "TIER_10K",
        "name_status": "APPROVED",
        "code_verification_status": "VERIFIED",
    }
    numbers = graph.get("/2000001/phone_numbers").json()["data"]
    assert [n["id"] for n in numbers] == ["1000001"]
    apps = graph.get("/2000001/subscribed_apps").json()["data"]
    assert apps[0]["whatsapp_business_api_data"]["id"] == "3000001"
    assert graph.get("/2000001").json()["id"] == "2000001"
    assert (
        graph.post(
            "/1000001/whatsapp_business_profile", json={"messaging_product": "whatsapp", "about": "Hi"}
        ).status_code
        == 200
    )
    assert graph.get("/1000001/whatsapp_business_profile").json()["data"][0]["about"] == "Hi"


def test_unknown_node_and_other_accounts_token(sb, graph):
    r = graph.get("/999999")
    assert r.status_code == 400
    err = r.json()["error"]
    assert (
        err["code"] == 100
        and err["error_subcode"] == 33
        and err["message"].startswith("Unsupported get request")
    )
    r = graph.post("/999999/messages", json={})
    assert r.json()["error"]["message"].startswith("Unsupported post request")
    sb.add_account("1000002", "2000002", "3000002", token="other-token", app_secret="s2")
    r = graph.get("/1000002")  # our token does not own that number
    assert r.status_code == 400 and r.json()["error"]["error_subcode"] == 33
    r = requests.get(graph.url + "/1000002", headers={"Authorization": "Bearer other-token"}, timeout=5)
    assert r.status_code == 200
    assert requests.get(graph.url + "/1000002", timeout=5).status_code == 401
    assert graph.get("/v99/1000001").status_code == 400
