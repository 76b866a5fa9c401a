#!/usr/bin/env bash
# Builds the sdist and the wheel (`python -m build`, the wheel made from the
# sdist) and checks what a user gets:
#   - the wheel holds every file of the package (templates, static files,
#     migrations, translations, py.typed) and nothing else; the sdist holds the
#     package, the tests, the docs, CHANGELOG.md and LICENSE;
#   - the wheel, and separately the sdist, install into a fresh virtualenv with
#     only the declared dependencies, and work there, away from the checkout:
#     django.setup(), migrate on SQLite, no missing migration, system checks, a
#     page rendered (in English and German), a static file found by the
#     staticfiles finders, the version in one place;
#   - the tests shipped in the sdist run from the unpacked sdist.
# Artefacts go to a temporary directory (DIST_DIR=dir keeps them there instead).
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCE=$PWD
PYTHON=${PYTHON:-python3}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
DIST=${DIST_DIR:-$WORK/dist}
mkdir -p "$DIST"

log() { printf '\n=== %s\n' "$*"; }
fail() { printf 'check_dist: %s\n' "$*" >&2; exit 1; }
started=$(date +%s)

log "Building the sdist and the wheel"
"$PYTHON" -m venv "$WORK/build-venv"
"$WORK/build-venv/bin/python" -m pip install --quiet --upgrade pip build
rm -f "$DIST"/django_authy2fa-*
"$WORK/build-venv/bin/python" -m build --outdir "$DIST" . >"$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log"; fail "python -m build failed"; }
shopt -s nullglob
wheels=("$DIST"/django_authy2fa-*.whl)
sdists=("$DIST"/django_authy2fa-*.tar.gz)
[ ${#wheels[@]} -eq 1 ] && [ ${#sdists[@]} -eq 1 ] || fail "expected one wheel and one sdist in $DIST"
WHEEL=${wheels[0]}
SDIST=${sdists[0]}
ls -l "$WHEEL" "$SDIST"

log "Contents of the wheel and the sdist"
"$PYTHON" - "$WHEEL" "$SDIST" "$SOURCE" <<'EOF'
import ast
import re
import sys
import tarfile
import zipfile
from pathlib import Path

wheel, sdist, source = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
init = (source / "django_authy2fa" / "__init__.py").read_text()
version = next(
    ast.literal_eval(node.value)
    for node in ast.parse(init).body
    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__version__"
)
problems = []


def package_files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in (root / "django_authy2fa").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


expected = package_files(source)
for required in (
    "django_authy2fa/py.typed",
    "django_authy2fa/migrations/0001_initial.py",
    "django_authy2fa/locale/de/LC_MESSAGES/django.mo",
    "django_authy2fa/templates/django_authy2fa/verify.html",
    "django_authy2fa/static/django_authy2fa/authy2fa.css",
):
    if required not in expected:
        problems.append(f"the source tree has no {required}")

# The version: one place (__version__), the same in both file names and the metadata.
for artefact in (wheel, sdist):
    if f"django_authy2fa-{version}" not in artefact.name:
        problems.append(f"{artefact.name} does not carry __version__ {version}")

with zipfile.ZipFile(wheel) as zf:
    names = set(zf.namelist())
    dist_info = f"django_authy2fa-{version}.dist-info"
    in_package = {n for n in names if not n.startswith(dist_info + "/")}
    for missing in sorted(expected - in_package):
        problems.append(f"wheel lacks {missing}")
    for extra in sorted(in_package - expected):
        problems.append(f"wheel has a file the package does not: {extra}")
    metadata = zf.read(f"{dist_info}/METADATA").decode()
    if f"\nVersion: {version}\n" not in metadata:
        problems.append("wheel METADATA has another version")
    if "License-Expression: BSD-3-Clause" not in metadata:
        problems.append("wheel METADATA lacks License-Expression: BSD-3-Clause")
    if f"{dist_info}/licenses/LICENSE" not in names:
        problems.append("wheel lacks the LICENSE file")
    requires = sorted(re.findall(r"^Requires-Dist: (.+)$", metadata, re.M))
    print(f"wheel: {len(in_package)} package files; Requires-Dist:")
    print("  " + "\n  ".join(requires))
    for kind, pattern in (
        ("templates", "/templates/"),
        ("static files", "/static/"),
        ("migrations", "/migrations/0"),
        ("locale files", "/locale/"),
    ):
        found = sorted(n for n in in_package if pattern in n)
        print(f"  {kind}: {len(found)}")
        if not found:
            problems.append(f"wheel has no {kind}")

with tarfile.open(sdist) as tf:
    root = f"django_authy2fa-{version}"
    members = {m.name.removeprefix(root + "/") for m in tf.getmembers() if m.isfile()}
    for missing in sorted(expected - members):
        problems.append(f"sdist lacks {missing}")
    for required in (
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "MANIFEST.in",
        "PKG-INFO",
        "manage.py",
        "tests/conftest.py",
        "tests/settings.py",
        "tests/test_translations.py",
        "example_project/settings.py",
        "docs/installation.md",
        "docs/translations.md",
    ):
        if required not in members:
            problems.append(f"sdist lacks {required}")
    for name in sorted(members):
        if re.search(r"(^|/)(\.venv|\.matrix|\.git|__pycache__)(/|$)|\.sqlite3$|^\.ci/", name):
            problems.append(f"sdist holds {name}, which does not belong in it")
    print(f"sdist: {len(members)} files")

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"version {version}: wheel and sdist contents are complete")
EOF

# A minimal site, written outside the checkout so that only the installed
# package can be imported.
mkdir -p "$WORK/site"
cat >"$WORK/site/smoke_settings.py" <<'EOF'
SECRET_KEY = "dist-check-only-0123456789-abcdefghijklmnopqrstuvwxyz"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_authy2fa",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_authy2fa.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
AUTHENTICATION_BACKENDS = ["django_authy2fa.backends.TwoFactorBackend"]
ROOT_URLCONF = "smoke_urls"
LOGIN_URL = "authy2fa:login"
STATIC_URL = "/static/"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "smoke.sqlite3"}}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTHY2FA = {"PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider"}
EOF
cat >"$WORK/site/smoke_urls.py" <<'EOF'
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("account/2fa/", include("django_authy2fa.urls")),
]
EOF
cat >"$WORK/site/smoke.py" <<'EOF'
import importlib.metadata
import os
import sys
import sysconfig
from pathlib import Path

os.environ["DJANGO_SETTINGS_MODULE"] = "smoke_settings"
import django

import django_authy2fa

package = Path(django_authy2fa.__file__).resolve().parent
site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()
assert package.parent == site_packages, f"imported from {package}, not the virtualenv"
assert importlib.metadata.version("django-authy2fa") == django_authy2fa.__version__
assert (package / "py.typed").is_file(), "py.typed is missing"

django.setup()
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment

call_command("migrate", verbosity=0)
call_command("makemigrations", "django_authy2fa", check=True, dry_run=True, verbosity=0)
call_command("check", fail_level="ERROR")

found = finders.find("django_authy2fa/authy2fa.css")
assert found and Path(found).resolve().is_relative_to(package), found

setup_test_environment()
client = Client()
english = client.get("/account/2fa/login/", HTTP_ACCEPT_LANGUAGE="en")
assert english.status_code == 200, english.status_code
assert "Sign in" in english.content.decode()
assert english.templates[0].origin.name.startswith(str(package))
german = Client().get("/account/2fa/login/", HTTP_ACCEPT_LANGUAGE="de")
assert '<html lang="de">' in german.content.decode() and "Anmelden" in german.content.decode()

# Without the drf extra the API says which extra to install.
try:
    import django_authy2fa.api  # noqa: F401
except ImportError as err:
    assert "django-authy2fa[drf]" in str(err), err
else:
    sys.exit("django_authy2fa.api imported although djangorestframework is not installed")

print(
    f"django-authy2fa {django_authy2fa.__version__} on Django {django.get_version()}: "
    "imports, migrates, passes its checks, renders pages (en, de), serves its static files"
)
EOF

smoke() {  # $1: label, $2: what to pip install
  local venv="$WORK/venv-$1"
  log "Installing the $1 into a fresh virtualenv (declared dependencies only)"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet "$2"
  "$venv/bin/python" -m pip list --format=freeze | sed 's/^/  /'
  log "Smoke check of the installed $1 (outside the checkout)"
  # Run from the site directory: the checkout is not on sys.path there.
  (cd "$WORK/site" && rm -f smoke.sqlite3 && env -u PYTHONPATH "$venv/bin/python" smoke.py) \
    || fail "the $1 does not work once installed"
}

smoke wheel "$WHEEL"
smoke sdist "$SDIST"

log "The tests shipped in the sdist run from the unpacked sdist"
mkdir -p "$WORK/unpacked"
tar -xzf "$SDIST" -C "$WORK/unpacked"
unpacked=$(echo "$WORK"/unpacked/django_authy2fa-*)
"$WORK/venv-sdist/bin/python" -m pip install --quiet "django-authy2fa[test] @ file://$SDIST"
(cd "$unpacked" && env -u DATABASE_URL -u CACHE_URL "$WORK/venv-sdist/bin/python" -m pytest -q -p no:cacheprovider \
  tests/test_translations.py tests/test_models.py tests/test_login_flow.py tests/test_routes.py 2>&1 | tail -4) \
  || fail "the tests in the sdist fail"

log "Distribution check passed in $(($(date +%s) - started))s: $(basename "$WHEEL"), $(basename "$SDIST")"
