"""Build hook: the wheel's `weblet` package is the core plus every plugin's modules.

Each plugin installs into the same package from its own folder
(plugins/<name>/weblet/<module>.py -> weblet/<module>.py); setuptools'
package-dir maps one folder per package, so the plugin modules are copied in
after the core is built. Everything else is in pyproject.toml.
"""
import glob
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildWithPlugins(build_py):
    """build_py that also copies plugins/*/weblet/*.py into the weblet package."""

    def run(self):
        super().run()
        target = os.path.join(self.build_lib, 'weblet')
        for source in sorted(glob.glob(os.path.join(HERE, 'plugins', '*', 'weblet', '*.py'))):
            self.copy_file(source, os.path.join(target, os.path.basename(source)))


# build/lib is where tools/stage.py lays out the device tree: build the wheel elsewhere.
setup(cmdclass={'build_py': BuildWithPlugins}, options={'build': {'build_base': 'build/wheel'}})
