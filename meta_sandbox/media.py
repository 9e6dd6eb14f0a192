"""Media endpoints (upload, metadata, download, delete) and the resumable upload API."""

import base64
import secrets
from email.parser import BytesParser
from email.policy import HTTP

from .server import GraphError, Response

# MIME type -> max size in bytes (Meta's supported media, cloud-api-facts §7.5).
MB = 1024 * 1024
LIMITS = {
    "audio/aac": 16 * MB,
    "audio/amr": 16 * MB,
    "audio/mpeg": 16 * MB,
    "audio/mp4": 16 * MB,
    "audio/ogg": 16 * MB,
    "text/plain": 100 * MB,
    "application/pdf": 100 * MB,
    "application/msword": 100 * MB,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": 100 * MB,
    "application/vnd.ms-excel": 100 * MB,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": 100 * MB,
    "application/vnd.ms-powerpoint": 100 * MB,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": 100 * MB,
    "image/jpeg": 5 * MB,
    "image/png": 5 * MB,
    "image/webp": 500 * 1024,
    "video/mp4": 16 * MB,
    "video/3gpp": 16 * MB,
}


def media_error(details):
    return GraphError(400, 131053, "(#131053) Media upload error", details=details)


def parse_multipart(req):
    ctype = req.header("Content-Type") or ""
    if not ctype.startswith("multipart/form-data"):
        raise GraphError(400, 100, "(#100) Invalid parameter", details="Upload media as multipart/form-data.")
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + req.body)
    fields, files = {}, {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            files[name] = (filename, part.get_content_type(), payload)
        else:
            fields[name] = payload.decode(errors="replace")
    return fields, files


def upload(sb, req, acc):
    fields, files = parse_multipart(req)
    if fields.get("messaging_product") != "whatsapp":
        raise GraphError(
            400,
            100,
            "(#100) The parameter messaging_product is required.",
            details="messaging_product must be whatsapp",
        )
    if "file" not in files:
        raise GraphError(400, 100, "(#100) The parameter file is required.", details="file is required")
    filename, part_type, data = files["file"]
    mime = (fields.get("type") or part_type or "").split(";")[0].strip().lower()
    if mime not in LIMITS:
        raise media_error(
            f"Param file must be a file with one of the following types: {', '.join(sorted(LIMITS))}. "
            f"Received file of type '{mime}'."
        )
    if not data:
        raise media_error("The uploaded file is empty.")
    if len(data) > LIMITS[mime]:
        raise media_error(f"File of type {mime} is too large: {len(data)} bytes > {LIMITS[mime]} bytes.")
    item = sb.add_media(data, mime, filename, phone_number_id=acc.phone_number_id)
    return Response(200, {"id": item.id})


def get_media(sb, req, acc):
    item = sb.state.media[req.parts[1]]
    return Response(
        200,
        {
            "messaging_product": "whatsapp",
            "url": f"{sb.url}/media_download/{item.id}?ext={secrets.token_hex(4)}&hash={item.sha256[:16]}",
            "mime_type": item.mime_type,
            "sha256": item.sha256,
            "file_size": len(item.data),
            "id": item.id,
        },
    )


def delete_media(sb, req, acc):
    sb.state.media[req.parts[1]].deleted = True
    return Response(200, {"success": True})


def download(sb, req, acc):
    item = sb.state.media.get(req.parts[1]) if len(req.parts) > 1 else None
    if item is None or item.deleted:
        return Response(404, b"Not Found", content_type="text/plain")
    return Response(200, item.data, content_type=item.mime_type)


def start_upload(sb, req, acc):
    q = req.query
    try:
        length = int(q.get("file_length") or "")
    except ValueError:
        raise GraphError(
            400, 100, "(#100) Invalid parameter", details="file_length must be an integer"
        ) from None
    if not q.get("file_type") or length <= 0:
        raise GraphError(
            400, 100, "(#100) Invalid parameter", details="file_length and file_type are required"
        )
    upload_id = "upload:" + base64.urlsafe_b64encode(secrets.token_bytes(18)).decode().rstrip("=")
    sb.state.uploads[upload_id] = {
        "phone_number_id": acc.phone_number_id,
        "file_name": q.get("file_name") or "file",
        "file_length": length,
        "file_type": q["file_type"],
        "data": b"",
    }
    return Response(200, {"id": upload_id})


def upload_chunk(sb, req, acc):
    auth = req.header("Authorization") or ""
    if not auth.startswith("OAuth "):
        raise GraphError(
            400, 100, "(#100) Invalid parameter", details="Use the header 'Authorization: OAuth <token>'."
        )
    session = sb.state.uploads[req.parts[1]]
    try:
        offset = int(req.header("file_offset", "0"))
    except ValueError:
        offset = -1
    if offset != len(session["data"]):
        raise GraphError(
            400,
            100,
            "(#100) Invalid parameter",
            details=f"file_offset must be {len(session['data'])}, got {offset}",
        )
    session["data"] += req.body
    if len(session["data"]) > session["file_length"]:
        raise GraphError(
            400, 100, "(#100) Invalid parameter", details="More bytes than file_length were sent."
        )
    if len(session["data"]) < session["file_length"]:
        return Response(200, {"id": req.parts[1], "file_offset": len(session["data"])})
    handle = "4::" + base64.b64encode(secrets.token_bytes(24)).decode() + ":" + session["file_type"]
    session["handle"] = handle
    sb.state.handles[handle] = session
    return Response(200, {"h": handle})


def upload_status(sb, req, acc):
    session = sb.state.uploads[req.parts[1]]
    return Response(200, {"id": req.parts[1], "file_offset": len(session["data"])})
