"""The program dashboard: the RevOps admins' home page. Every number is the size of a list one
click away, and the program's maturity stage comes with the reasons it is not yet at the next."""
