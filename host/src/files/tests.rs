//! Behaviour tests of packing and unpacking, on real files in temporary
//! directories. Unit tables live next to their code.

mod compat;
mod file_mode;
mod fixture;
mod hostile;
mod round_trip;
mod symlinks;
