-- placeholder until the standard library lands
return {}
