"""First checks: the demo service is up, authenticated and seeded."""
import requests


def test_healthz_needs_no_key(service):
    resp = requests.get(f"{service.root_url}/healthz", timeout=10)
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}


def test_demo_datasets_listed_for_first_tenant(service):
    resp = requests.get(f"{service.base_url}/datasets", headers=service.headers, timeout=10)
    assert resp.status_code == 200
    body = resp.json()
    assert body["total_count"] >= 3
    assert sum(d["status"] == "ready" for d in body["datasets"]) >= 3
