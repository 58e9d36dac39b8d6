//! Decode stage: link, network, tunnel and transport headers (etherparse).
