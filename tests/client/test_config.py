"""Settings, key masking and the error tree's construction (pure functions; no service needed)."""
from __future__ import annotations

import copy
import pickle
import warnings

import pytest

from aion_pandas import errors
from aion_pandas.client import AsyncClient, Client, connect
from aion_pandas.config import HOSTED_BASE_URL, Secret, Settings, is_loopback, mask_key

LONG_KEY = "aion_abcdefghijklmnopqrstuvwxyz_SECRETPART_wxyz"


@pytest.mark.parametrize("key, shown", [
    (LONG_KEY, "aion_…wxyz"),
    ("aion_0123456789abcdefWXYZ", "aion_…WXYZ"),
    ("aion_short", "aion_…"),          # too short to show any of it
    ("0123456789abcdefghij", "…ghij"),
    ("k", "…"),
])
def test_mask_key_shows_at_most_prefix_and_last_four(key, shown):
    assert mask_key(key) == shown
    assert len(mask_key(key).replace("aion_", "").replace("…", "")) <= 4


def test_secret_never_shows_itself():
    secret = Secret(LONG_KEY)
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret]), repr({"k": secret})):
        assert "SECRETPART" not in text
    assert secret.reveal() == LONG_KEY
    assert copy.deepcopy(secret) is secret
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    assert secret.fingerprint() == Secret(LONG_KEY).fingerprint() != Secret(LONG_KEY + "x").fingerprint()
    assert "SECRETPART" not in secret.fingerprint()


def test_settings_arguments_win_over_environment(monkeypatch):
    monkeypatch.setenv("AIONVISION_API_KEY", "aion_from_the_environment_000000")
    monkeypatch.setenv("AIONVISION_BASE_URL", "https://env.example.org/api/v2")
    s = Settings.resolve(api_key=LONG_KEY, base_url="https://arg.example.org/api/v2/")
    assert s.api_key.reveal() == LONG_KEY and s.base_url == "https://arg.example.org/api/v2"
    s = Settings.resolve()
    assert s.api_key.reveal() == "aion_from_the_environment_000000"
    assert s.base_url == "https://env.example.org/api/v2"


def test_settings_key_alone_means_hosted_api_and_nothing_means_local(monkeypatch):
    assert Settings.resolve(api_key=LONG_KEY).base_url == HOSTED_BASE_URL
    s = Settings.resolve()
    assert s.api_key is None and s.base_url is None


@pytest.mark.parametrize("kwargs, message", [
    ({"api_key": "  "}, "api_key is empty"),
    ({"api_key": LONG_KEY, "base_url": "ftp://x"}, "absolute http"),
    ({"api_key": LONG_KEY, "timeout": 0}, "timeout"),
    ({"api_key": LONG_KEY, "max_retries": -1}, "max_retries"),
])
def test_settings_refuse_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Settings.resolve(**kwargs)


@pytest.mark.parametrize("url, warns", [
    ("http://api.example.org/api/v2", True),
    ("http://10.0.0.5:8765/api/v2", True),
    ("https://api.example.org/api/v2", False),
    ("http://127.0.0.1:8765/api/v2", False),
    ("http://localhost:8765/api/v2", False),
    ("http://[::1]:8765/api/v2", False),
])
def test_plain_http_to_a_non_loopback_host_warns(url, warns):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = Client(LONG_KEY, url)
    assert any("plain http" in str(w.message) for w in caught) is warns
    assert is_loopback(url) is (not warns and url.startswith("http://"))
    assert "SECRETPART" not in repr(client)


@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_client_repr_shows_base_url_and_masked_key_only(cls):
    client = cls(LONG_KEY, "https://api.example.org/api/v2")
    request = client.build_request("GET", "datasets")
    assert "SECRETPART" in request.headers["Authorization"]  # sent, but never shown:
    for text in (repr(client), str(client), repr(client.settings), repr(client.http), repr(client.datasets),
                 repr(client.batches), repr(vars(client)), repr(vars(client.http)), repr(request)):
        assert "SECRETPART" not in text, text
    assert repr(client) == f"{cls.__name__}(base_url='https://api.example.org/api/v2', api_key='aion_…wxyz')"
    with pytest.raises(TypeError):
        pickle.dumps(client)


def test_connect_with_a_base_url_but_no_key_says_what_to_set():
    with pytest.raises(errors.AionError, match="AIONVISION_API_KEY"):
        connect(base_url="https://api.example.org/api/v2")


@pytest.mark.parametrize("status, cls", [
    (400, errors.BadRequestError), (401, errors.AuthenticationError), (403, errors.PermissionDeniedError),
    (404, errors.NotFoundError), (409, errors.ConflictError), (422, errors.ValidationError),
    (429, errors.RateLimitError), (500, errors.ServerError), (503, errors.ServerError), (418, errors.APIError),
])
def test_error_from_envelope_picks_the_class_and_keeps_every_field(status, cls):
    body = {"error": {"code": "SOME_CODE", "message": "what went wrong", "details": {"field": "x"}},
            "request_id": "req_123"}
    err = errors.error_from_response(status, body, headers={"Retry-After": "7"}, method="POST",
                                     url="https://h/api/v2/datasets?signature=abc")
    assert type(err) is cls and isinstance(err, errors.APIError) and isinstance(err, errors.AionError)
    assert (err.status, err.code, err.message, err.details, err.request_id) == \
        (status, "SOME_CODE", "what went wrong", {"field": "x"}, "req_123")
    assert "signature" not in str(err) and "req_123" in str(err) and "POST https://h/api/v2/datasets" in str(err)
    if cls is errors.RateLimitError:
        assert err.retry_after == 7.0


def test_error_without_envelope_gets_a_code_from_its_status_and_the_request_id_header():
    err = errors.error_from_response(502, "<html>Bad gateway</html>", headers={"X-Request-ID": "req_9"})
    assert isinstance(err, errors.ServerError) and err.request_id == "req_9" and err.code == "BAD_GATEWAY"
    assert "Bad gateway" in err.message


def test_connection_errors_are_both_ours_and_builtin():
    err = errors.TimeoutError("no answer", method="GET", url="http://h/x?signature=s")
    assert isinstance(err, errors.ConnectionError) and isinstance(err, errors.AionError)
    assert isinstance(err, TimeoutError) and isinstance(err, ConnectionError)
    assert str(err) == "no answer (GET http://h/x)"


@pytest.mark.parametrize("export_id, url, folder, name", [
    ("e1", "https://h/exports/e1/dataset_1.json?expires=1&signature=ab", "e1", "dataset_1.json"),
    ("../../etc", "https://h/exports/x/..%2F..%2Fpasswd", ".._.._etc", "passwd"),
    ("e2", "https://h/exports/e2/..%5C..%5Cevil.zip", "e2", "evil.zip"),
    ("e3", "https://h/exports/e3/..", "e3", "e3.coco"),
    ("..", "https://h/exports/a%00b%0A.json", "unnamed", "a_b_.json"),
])
def test_export_file_names_from_a_service_are_made_safe(export_id, url, folder, name):
    from aion_pandas.records import ExportResult
    export = ExportResult(export_id, "d1", "coco", "completed", 1, url, 1, "application/json", None)
    assert (export.cache_folder, export.file_name) == (folder, name)


def test_the_official_sdk_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AIONVISION_API_KEY", LONG_KEY)
    monkeypatch.setenv("AIONVISION_BASE_URL", "https://api.example.org/api/v2")
    monkeypatch.setenv("AIONVISION_TIMEOUT", "45")
    monkeypatch.setenv("AIONVISION_MAX_RETRIES", "5")
    monkeypatch.setenv("AIONVISION_POLLING_INTERVAL", "0.5")
    monkeypatch.setenv("AIONVISION_POLLING_TIMEOUT", "900")
    for client in (Client.from_env(cache_dir=tmp_path), AsyncClient.from_env(cache_dir=tmp_path)):
        s = client.settings
        assert (s.base_url, s.timeout, s.max_retries, s.polling_interval, s.polling_timeout) == (
            "https://api.example.org/api/v2", 45.0, 5, 0.5, 900.0)
        assert s.api_key == Secret(LONG_KEY)
    assert Client.from_env(timeout=10, cache_dir=tmp_path).settings.timeout == 10.0  # an argument wins


@pytest.mark.parametrize("name, value, words", [
    ("AIONVISION_TIMEOUT", "soon", "AIONVISION_TIMEOUT must be a number"),
    ("AIONVISION_MAX_RETRIES", "2.5", "AIONVISION_MAX_RETRIES must be a whole number"),
    ("AIONVISION_POLLING_TIMEOUT", "-1", "polling_timeout must be a positive number"),
])
def test_a_bad_setting_in_the_environment_is_named(monkeypatch, name, value, words):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=words):
        Settings.resolve(api_key=LONG_KEY)


def test_from_env_without_a_key_says_what_to_set(monkeypatch):
    monkeypatch.delenv("AIONVISION_API_KEY", raising=False)
    with pytest.raises(errors.AionError, match="AIONVISION_API_KEY"):
        Client.from_env()
