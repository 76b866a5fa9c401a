"""Provider faults on real sockets, and the circuit breaker that contains them."""
