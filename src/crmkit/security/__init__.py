"""Access control: role-based policies for the access port."""
