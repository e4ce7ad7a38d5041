"""Live prices: the streamer process (Yahoo's websocket or the simulated stream), the coalesced
quote writes, the tick channel and the server-sent events that push prices to open pages."""
