//! Integration tests of the course network.

mod backends;
mod config;
mod fixtures;
mod forward;
mod gradients;
mod hooks;
mod init;
mod io;
