# MicroPython freeze manifest of the whole weblet stack.
# Freezes each file where mip installs it; include() brings its deps. In a
# firmware's manifest: include("<this folder>/manifest.py"). Generated from
# package.json by `python tools/check_packages.py --fix`; do not edit.
include("core/manifest.py")
include("plugins/auth/manifest.py")
include("plugins/cors/manifest.py")
include("plugins/pyhtml/manifest.py")
include("plugins/restapi/manifest.py")
include("plugins/ssl/manifest.py")
include("plugins/static/manifest.py")
include("plugins/websockets/manifest.py")
