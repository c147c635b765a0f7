"""Bootstrap from the installed xstatic package, so the console works offline."""

from flask import Blueprint, send_from_directory
from xstatic.pkg import bootstrap

blp = Blueprint("console_assets", __name__)


@blp.route("/app/assets/bootstrap/<path:filename>")
def bootstrap_asset(filename: str):
    return send_from_directory(bootstrap.BASE_DIR, filename, max_age=86400)
