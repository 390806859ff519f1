"""The error every setup step raises, in a module of its own so that setup and the pre-flight
it runs can both raise it without importing each other."""


class SetupError(Exception):
    """Setup cannot proceed: broken files, unknown policy names, or a refusal by the cluster."""
