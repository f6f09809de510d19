"""Chat and terminal adapters: thin translations between the engine and each platform."""
