"""Auth, tenants and the error envelope on every kind of failure."""
from __future__ import annotations

import pytest
import requests

from .helpers import api, assert_envelope, batches_by_name, new_dataset


def test_missing_and_wrong_key_answer_401_envelope(service):
    for headers in ({}, {"Authorization": "Bearer aion_wrong"}, {"Authorization": f"Basic {service.api_key}"},
                    {"Authorization": "Bearer "}):
        resp = requests.get(f"{service.base_url}/datasets", headers=headers, timeout=10)
        error = assert_envelope(resp, 401, "INVALID_API_KEY")
        assert service.api_key not in resp.text and "aion_wrong" not in resp.text
        assert error["message"]


@pytest.mark.parametrize("path", ["/datasets", "/datasets/statistics/summary", "/batches",
                                  "/batch/x", "/batch/x/results", "/datasets/x", "/user-files/x/download"])
def test_every_api_route_needs_a_key(service, path):
    assert_envelope(requests.get(f"{service.base_url}{path}", timeout=10), 401, "INVALID_API_KEY")


def test_unknown_route_and_method_use_the_envelope(service):
    assert_envelope(api(service, "GET", "/no-such-thing"), 404, "NOT_FOUND")
    assert_envelope(requests.get(f"{service.root_url}/nothing/here", timeout=10), 404, "NOT_FOUND")
    assert_envelope(api(service, "DELETE", "/datasets"), 405, "METHOD_NOT_ALLOWED")


def test_validation_errors_use_the_envelope(service):
    error = assert_envelope(api(service, "POST", "/datasets", json={"name": "no batch"}), 422, "VALIDATION_ERROR")
    assert "batch_id" in error["message"]
    assert error["details"]["errors"][0]["loc"] == ["body", "batch_id"]
    assert_envelope(api(service, "POST", "/datasets", data="not json",
                        headers={"Content-Type": "application/json"}), 422, "VALIDATION_ERROR")
    assert_envelope(api(service, "GET", "/datasets", params={"status": "done"}), 422, "VALIDATION_ERROR")
    assert_envelope(api(service, "POST", "/datasets", json={"batch_id": "b", "name": "n",
                                                             "format_config": {"csv_delimiter": ";;"}}),
                    422, "VALIDATION_ERROR")


def test_unknown_ids_answer_404(service):
    unknown = "00000000-0000-4000-8000-000000000000"  # the batch and file routes take UUIDs (422 otherwise)
    for path in ("/datasets/nope", f"/batch/{unknown}", f"/batch/{unknown}/results",
                 f"/data/batch-images/{unknown}"):
        assert_envelope(api(service, "GET", path), 404, "NOT_FOUND")
    body = api(service, "GET", f"/user-files/{unknown}/download").json()  # as the hosted API: a UserFilesError
    assert set(body) == {"error", "message", "details", "request_id"} and body["error"] == "NOT_FOUND"
    assert_envelope(api(service, "POST", "/datasets/nope/export", json={"format": "csv"}), 404, "NOT_FOUND")
    error = assert_envelope(api(service, "POST", "/datasets", json={"batch_id": "nope", "name": "x"}),
                            404, "NOT_FOUND")
    assert error["details"] == {"batch_id": "nope"}


def test_tenants_never_see_each_other(service):
    mine = new_dataset(service)
    other_batches = batches_by_name(service, key=service.other_api_key)
    assert set(other_batches) == {"sample-batch"}
    assert "street-scenes" not in other_batches
    theirs = new_dataset(service, "sample-batch", key=service.other_api_key)
    export = api(service, "POST", f"/datasets/{mine['id']}/export", json={"format": "csv"}).json()
    other = service.other_api_key
    # the other tenant gets 404 for everything of mine, and the reverse
    assert_envelope(api(service, "GET", f"/datasets/{mine['id']}", key=other), 404, "NOT_FOUND")
    assert_envelope(api(service, "POST", f"/datasets/{mine['id']}/export", key=other, json={"format": "csv"}),
                    404, "NOT_FOUND")
    assert_envelope(api(service, "GET", f"/batch/{mine['batch_id']}", key=other), 404, "NOT_FOUND")
    assert_envelope(api(service, "GET", f"/batch/{mine['batch_id']}/results", key=other), 404, "NOT_FOUND")
    assert_envelope(api(service, "POST", "/datasets", key=other, json={"batch_id": mine["batch_id"], "name": "x"}),
                    404, "NOT_FOUND")
    assert_envelope(api(service, "GET", f"/datasets/{theirs['id']}"), 404, "NOT_FOUND")
    file_id = api(service, "GET", f"/batch/{mine['batch_id']}/results").json()["results"][0]["file_id"]
    assert api(service, "GET", f"/user-files/{file_id}/download").status_code == 200
    missing = api(service, "GET", f"/user-files/{file_id}/download", key=other)  # the hosted UserFilesError
    assert missing.status_code == 404 and missing.json()["error"] == "NOT_FOUND" and missing.json()["message"]
    # lists and statistics only count one's own
    their_list = api(service, "GET", "/datasets", key=other, params={"limit": 1000}).json()
    assert mine["id"] not in {d["id"] for d in their_list["datasets"]}
    assert theirs["id"] in {d["id"] for d in their_list["datasets"]}
    my_list = api(service, "GET", "/datasets", params={"limit": 1000}).json()
    assert theirs["id"] not in {d["id"] for d in my_list["datasets"]}
    stats = api(service, "GET", "/datasets/statistics/summary", key=other).json()
    assert stats["dataset_statistics"]["total_datasets"] == their_list["total_count"]
    assert stats["export_statistics"]["total_exports"] == sum(d["export_count"] for d in their_list["datasets"])
    # a signed export URL works for anyone who has it (like a presigned URL), by design
    assert requests.get(export["download_url"], timeout=10).status_code == 200


def test_key_never_in_logs(service):
    api(service, "GET", "/datasets")
    requests.get(f"{service.base_url}/datasets", headers={"Authorization": "Bearer aion_leak_probe"}, timeout=10)
    log = (service.data_dir / "server.log").read_text(errors="replace")
    assert service.api_key not in log and "aion_leak_probe" not in log
