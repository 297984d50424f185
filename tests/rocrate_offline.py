"""roc-validator with no network: its HTTP cache is filled from the contexts in tests/rocrate/, then it
runs with --offline. Used by the crate tests of every tier that makes a crate."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

CONTEXTS = Path(__file__).resolve().parent / "rocrate"
URLS = {
    "https://w3id.org/ro/crate/1.1/context": CONTEXTS / "ro-crate-1.1-context.jsonld",
    "https://w3id.org/ro/terms/workflow-run": CONTEXTS / "workflow-run-context.json",
    "https://w3id.org/ro/terms/workflow-run/context": CONTEXTS / "workflow-run-context.json",
}
PROFILE = "provenance-run-crate-0.5"


def seed_cache(cache: Path) -> Path:
    """The validator's requests-cache database, holding the contexts as if fetched."""
    import requests
    from requests.adapters import BaseAdapter
    from rocrate_validator.utils.http import HttpRequester
    from urllib3.response import HTTPResponse

    class Local(BaseAdapter):
        def send(self, request, **kwargs):
            path = URLS.get(request.url)
            body = path.read_bytes() if path else b""
            headers = {"Content-Type": "application/ld+json", "Content-Length": str(len(body))}
            resp = requests.Response()
            resp.request, resp.url = request, request.url
            resp.status_code = 200 if path else 404
            resp.headers = requests.structures.CaseInsensitiveDict(headers)
            resp.raw = HTTPResponse(body=io.BytesIO(body), headers=headers, status=resp.status_code,
                                    preload_content=False, request_url=request.url)
            resp._content, resp.encoding = body, "utf-8"
            return resp

        def close(self):
            pass

    requester = HttpRequester.initialize_cache(cache_path=str(cache), cache_max_age=-1)
    for scheme in ("https://", "http://"):
        requester.session.mount(scheme, Local())
    for url in URLS:
        requester.fetch_fresh(url)
    return cache


def validate(crate: Path, cache: Path, level: str = "required") -> tuple[bool, list[str]]:
    """Validate a crate against the Provenance Run Crate profile, offline; (valid, issue messages)."""
    exe = shutil.which("rocrate-validator", path=str(Path(sys.executable).parent)) or "rocrate-validator"
    report = cache.parent / f"report-{level}.json"
    subprocess.run([exe, "-y", "--disable-color", "validate", "--offline", "--cache-path", str(cache), "-p", PROFILE,
                    "-l", level, "--no-paging", "-f", "json", "-o", str(report), str(crate)],
                   capture_output=True, text=True, timeout=600)
    result = json.loads(report.read_text())
    issues = [f"{i.get('check', {}).get('identifier')}: {i.get('message')}" for i in result.get("issues", [])]
    return bool(result.get("passed")), issues
