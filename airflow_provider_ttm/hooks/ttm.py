"""``TuneTheModelHook``: the provider's only door to the Tune The Model API."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseHook, mask_secret

from airflow_provider_ttm.api import endpoints
from airflow_provider_ttm.api.records import ModelRecord, parse_model, parse_model_list
from airflow_provider_ttm.connection_fields import UI_FIELD_BEHAVIOUR
from airflow_provider_ttm.connection_settings import ConnectionSettings
from airflow_provider_ttm.exceptions import TuneTheModelError, TuneTheModelNotFoundError
from airflow_provider_ttm.hooks.transport import AsyncTransport, SyncTransport

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Connection


class TuneTheModelHook(BaseHook):
    """Talks to the Tune The Model API with the API key of an Airflow connection.

    The connection's password is the API key and its host the base URL (default
    ``https://api.tunethemodel.com``); extras set the timeout, retries and TLS verification. Every
    request has a timeout, and requests the service failed to serve are retried with capped
    exponential backoff that honours ``Retry-After``. Creating a model is never retried blindly.

    :param ttm_conn_id: the Airflow connection to use.
    """

    conn_name_attr = "ttm_conn_id"
    default_conn_name = "ttm_default"
    conn_type = "ttm"
    hook_name = "Tune The Model"

    def __init__(self, ttm_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ttm_conn_id = ttm_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Form layout for Airflow versions that read it from the hook (before 3.2)."""
        return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}

    @cached_property
    def settings(self) -> ConnectionSettings:
        """The connection's settings, read once per hook."""
        return self._settings_from(self.get_connection(self.ttm_conn_id))

    async def aget_settings(self) -> ConnectionSettings:
        """The connection's settings, read without blocking the event loop."""
        from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson
        from airflow.sdk.log import amask_secret

        conn = await get_async_connection(self.ttm_conn_id, hook=self)
        settings = ConnectionSettings.from_connection(
            self.ttm_conn_id, conn.host, conn.password, await get_async_extra_dejson(conn), port=conn.port
        )
        await amask_secret(settings.api_key)
        return settings

    def _settings_from(self, conn: Connection) -> ConnectionSettings:
        settings = ConnectionSettings.from_connection(
            self.ttm_conn_id, conn.host, conn.password, conn.extra_dejson, port=conn.port
        )
        mask_secret(settings.api_key)
        return settings

    @cached_property
    def transport(self) -> SyncTransport:
        """The pooled blocking transport."""
        return SyncTransport(self.settings, self.log)

    def get_conn(self) -> SyncTransport:
        """Return the pooled transport (Airflow's hook convention)."""
        return self.transport

    async def async_transport(self) -> AsyncTransport:
        """A new async transport; the caller closes it with ``aclose()``."""
        return AsyncTransport(await self.aget_settings(), self.log)

    def list_models(self) -> list[ModelRecord]:
        """Every model of the API key."""
        return parse_model_list(self.transport.send(endpoints.list_models()))

    def get_model(self, model_name: str) -> ModelRecord:
        """One model, from the status endpoint.

        :param model_name: the model's id.
        """
        return parse_model(self.transport.send(endpoints.get_model_status(model_name)))

    async def aget_model(self, transport: AsyncTransport, model_name: str) -> ModelRecord:
        """One model, from the status endpoint, without blocking.

        :param transport: an open async transport (see ``async_transport``).
        :param model_name: the model's id.
        """
        return parse_model(await transport.send(endpoints.get_model_status(model_name)))

    def create_model(
        self,
        model_type: str,
        *,
        name: str | None = None,
        num_classes: int | str | None = None,
        train_iters: int | str | None = None,
        pretrained_model: str | None = None,
        adopt_existing: bool = False,
    ) -> ModelRecord:
        """Create a model, at most once.

        A create whose outcome is unknown (timeout or dropped connection after sending) is only
        tried again when ``name`` was given and no model of that name appeared meanwhile; without
        a name it fails rather than risk a second, billed model.

        :param model_type: ``classifier`` or ``generator``.
        :param name: human-readable name; makes the call safe to retry.
        :param num_classes: number of classes of a classifier (at least 2).
        :param train_iters: training iterations.
        :param pretrained_model: id of a model to start from.
        :param adopt_existing: return an existing, not failed model of this ``name`` instead of
            creating one (for names unique to one task instance, so a retry finds its own model).
        """
        request = endpoints.create_model(
            model_type,
            name=name,
            num_classes=num_classes,
            train_iters=train_iters,
            pretrained_model=pretrained_model,
        )
        namesakes = self._models_named(name) if name is not None else []
        reusable = [model for model in namesakes if not model.has_failed]
        if adopt_existing and reusable:
            self.log.info("Model %s named %r already exists; reusing it.", reusable[0].model_name, name)
            return reusable[0]
        known_ids = {model.model_name for model in namesakes}

        def recover(error: TuneTheModelError) -> dict[str, Any] | None:
            if name is None:
                raise TuneTheModelError(
                    f"Creating the model may or may not have succeeded ({error}). It was not retried: "
                    "without a name a second model could not be told apart. Give the operator a 'name' "
                    "to make creation safe to retry, and check the service for a stray model."
                ) from error
            found = self._find_new_model(name, known_ids)
            if found is None:
                return None
            self.log.warning(
                "Create of %r got no answer, but the service has it: %s.", name, found.model_name
            )
            return found.to_dict()

        return parse_model(self.transport.send(request, recover=recover))

    def _models_named(self, name: str) -> list[ModelRecord]:
        return [model for model in self.list_models() if model.user_name == name]

    def _find_new_model(self, name: str, known_ids: set[str]) -> ModelRecord | None:
        new = [model for model in self._models_named(name) if model.model_name not in known_ids]
        return new[0] if new else None

    def delete_model(self, model_name: str, *, missing_ok: bool = True) -> ModelRecord | None:
        """Delete a model.

        :param model_name: the model's id.
        :param missing_ok: return None instead of raising when the model is already gone.
        """
        try:
            return parse_model(self.transport.send(endpoints.delete_model(model_name)))
        except TuneTheModelNotFoundError:
            if not missing_ok:
                raise
            self.log.info("Model %s is already gone; nothing to delete.", model_name)
            return None

    def test_connection(self) -> tuple[bool, str]:
        """Check the base URL and API key with one list call (backs the UI's Test button)."""
        try:
            transport = SyncTransport(self.settings, self.log)
            try:
                count = len(parse_model_list(transport.send_once(endpoints.list_models())))
            finally:
                transport.close()
        except TuneTheModelError as error:
            return False, str(error)
        except Exception as error:
            return False, f"{type(error).__name__}: {error}"
        return True, f"Connected to Tune The Model at {self.settings.base_url}: the key sees {count} models."
