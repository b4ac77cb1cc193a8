//! Distribution `config.yml` for Berth.
