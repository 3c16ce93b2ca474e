# MicroPython freeze manifest of weblet.
# Freezes each file where mip installs it; include() brings its deps. In a
# firmware's manifest: include("<this folder>/manifest.py"). Generated from
# package.json by `python tools/check_packages.py --fix`; do not edit.
module("weblet/__init__.py")
module("weblet/cpython.py")
module("weblet/platform.py")
module("weblet/protocol.py")
module("weblet/escaping.py")
module("weblet/forms.py")
module("weblet/routing.py")
module("weblet/urls.py")
module("weblet/body.py")
module("weblet/app.py")
module("weblet/server.py")
module("weblet/setup.py")
module("weblet/lifecycle.py")
