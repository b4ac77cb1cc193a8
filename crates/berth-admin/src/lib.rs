//! The management core the Berth desktop app and `berthd console` drive.
