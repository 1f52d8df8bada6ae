"""mlops-tui: the domain services and the headless CLI. Imports store/, never textual or screens/."""

__version__ = "0.1.0"
