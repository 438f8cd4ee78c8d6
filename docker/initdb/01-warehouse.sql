-- The warehouse lives beside Dagster's own storage, in a database of its own.
CREATE DATABASE weather_edge;
