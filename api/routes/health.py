"""GET /health: liveness, the active encoder, the public asset count and the authentication mode."""

from fastapi import APIRouter

from api.auth import mode as auth_mode
from api.deps import Col, Conf, Keys
from api.schemas import Health

router = APIRouter()


@router.get("/health", response_model=Health)
def health(c: Col, settings: Conf, keys: Keys) -> Health:
    auth = auth_mode(settings, keys)
    return Health(status="ok", encoder=c.encoder.id, encoder_reason=c.encoder_reason,
                  assets=c.catalog.public_asset_count(), auth=auth, anonymous=auth == "open" or bool(settings.anonymous))
