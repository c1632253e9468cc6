"""The model: forces and the vectorized step, the plain reference, the Mesa face, bargaining and landscape."""
