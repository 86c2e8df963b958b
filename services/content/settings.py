"""Settings of the content service, read once from `KIZUNA_*` variables at start-up."""

from typing import Self

from pydantic import model_validator

from shared.settings import KizunaSettings


class ContentSettings(KizunaSettings):
    # Fixed keys for the demo product (KIZUNA_DEMO_WRITE_KEY, KIZUNA_DEMO_API_KEY). When unset,
    # bootstrap generates them once and keeps them in `<var_dir>/demo-keys.json`.
    demo_write_key: str | None = None
    demo_api_key: str | None = None

    @model_validator(mode="after")
    def _demo_keys_come_in_pairs(self) -> Self:
        # One key from the environment and one generated would be a half-pinned demo that
        # changes under the user's feet; refuse it at start-up instead.
        if (self.demo_write_key is None) != (self.demo_api_key is None):
            raise ValueError("set both KIZUNA_DEMO_WRITE_KEY and KIZUNA_DEMO_API_KEY, or neither")
        return self
