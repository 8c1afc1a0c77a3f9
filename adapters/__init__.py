"""Adapters that strip the heads off public rPPG networks (installed as `codephys_plugin.adapters`)."""
