"""Weather domain: city registry, climate days, NWS / IEM / Open-Meteo clients, CLI parsing."""
