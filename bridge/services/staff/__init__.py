"""Staff accounts: creation, sign-in checks and the account chores."""
