"""asterisk-rec: call recording for Asterisk PBXes."""

__version__ = "0.1.0"
