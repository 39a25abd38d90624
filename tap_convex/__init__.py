"""tap-convex: a Singer tap for Convex's streaming-export API."""

__version__ = "0.1.0"
