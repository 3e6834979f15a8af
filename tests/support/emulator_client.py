"""A requests client of the emulator with shortcuts, its API keys and datasets, for the emulator's own tests."""

from __future__ import annotations

from typing import Any

import requests

from airflow_provider_ttm.emulator import ManualClock

KEY = "key-alice"
OTHER_KEY = "key-bob"
TRAIN_SECONDS = 10.0
FILE_SECONDS = 2.0


def classifier_dataset(rows: int = 32, num_classes: int = 3) -> dict[str, list[Any]]:
    return {"inputs": [f"text {i}" for i in range(rows)], "classes": [i % num_classes for i in range(rows)]}


def generator_dataset(rows: int = 32) -> dict[str, list[Any]]:
    return {"inputs": [f"prompt {i}" for i in range(rows)], "outputs": [f"answer {i}" for i in range(rows)]}


class Api:
    """A requests session on the emulator with one API key, and shortcuts to reach a given state."""

    def __init__(self, url: str, key: str | None) -> None:
        self.url = url
        self.session = requests.Session()
        if key is not None:
            self.session.headers["Authorization"] = key

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        return self.session.request(method, self.url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def create_model(self, model_type: str = "classifier", **body: Any) -> dict[str, Any]:
        if model_type == "classifier":
            body.setdefault("model_params", {"num_classes": 3})
        return dict(self.ok("POST", "/v0/models", json={"model_type": model_type, **body}))

    def uploaded_file(self, task_type: str = "classifier", dataset: dict[str, Any] | None = None) -> str:
        created = self.ok("POST", "/v0/files", json={"name": f"{task_type}.json", "task_type": task_type})
        if dataset is None:
            dataset = classifier_dataset() if task_type == "classifier" else generator_dataset()
        upload = requests.put(created["upload_url"], json=dataset, timeout=5)
        assert upload.status_code == 200, upload.text
        return str(created["id"])

    def bound_model(self, clock: ManualClock, model_type: str = "classifier") -> str:
        """A model with two ready files bound to it (DatasetsLoaded)."""
        model_id = str(self.create_model(model_type)["model_name"])
        files = [self.uploaded_file(model_type), self.uploaded_file(model_type)]
        clock.advance(FILE_SECONDS)
        self.ok(
            "POST", f"/v0/models/{model_id}/bind", json={"train_file": files[0], "validate_file": files[1]}
        )
        return model_id

    def trained_model(self, clock: ManualClock, model_type: str = "classifier") -> str:
        """A Ready model."""
        model_id = self.bound_model(clock, model_type)
        self.ok("POST", f"/v0/models/{model_id}/fit")
        clock.advance(TRAIN_SECONDS)
        return model_id

    def status(self, model_id: str) -> str:
        return str(self.ok("GET", f"/v0/models/{model_id}/status")["status"])
