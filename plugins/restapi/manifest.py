# MicroPython freeze manifest of weblet-restapi.
# Freezes each file where mip installs it; include() brings its deps. In a
# firmware's manifest: include("<this folder>/manifest.py"). Generated from
# package.json by `python tools/check_packages.py --fix`; do not edit.
include("../../core/manifest.py")
module("weblet/restapi.py")
