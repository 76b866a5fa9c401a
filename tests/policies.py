def everyone_but_bob(user) -> bool:
    return user.username != "bob"
