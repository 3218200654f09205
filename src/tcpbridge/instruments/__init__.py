"""Demo instruments built on the client library: a simulated detector and a simulated stage."""
