"""tap-convex: a Singer tap for Convex's streaming-export API."""
