//! The page from plain data: escaping, the policy, the checks on the data.

mod page;
