"""kaohe (考核): the host that assessment plugins stand on."""

__version__ = "0.1.0"
