# Flattens a JSON document (OpenStack meta_data.json) into "path<TAB>value" lines, one per scalar,
# for the tiny guest whose only tools are busybox's. Object keys and array indexes are joined with
# "/" ("public_keys/my key", "keys/0/data"); strings are unescaped (\uXXXX beyond ASCII becomes "?");
# tabs and newlines inside keys or values become spaces and values are trimmed, so each leaf is one
# line. null is skipped. Malformed input yields whatever leaves were read before the damage.

function hexval(h,    i, v, c) {
  v = 0
  for (i = 1; i <= length(h); i++) {
    c = index("0123456789abcdef", tolower(substr(h, i, 1)))
    if (c == 0) return -1
    v = v * 16 + c - 1
  }
  return v
}

function unescape(s,    out, i, c, v) {
  out = ""
  while ((i = index(s, "\\")) > 0) {
    out = out substr(s, 1, i - 1)
    c = substr(s, i + 1, 1)
    if (c == "u") {
      v = hexval(substr(s, i + 2, 4))
      if (v >= 32 && v < 127) out = out sprintf("%c", v)
      else if (v >= 0 && v < 32) out = out " "
      else out = out "?"
      s = substr(s, i + 6)
      continue
    }
    if (c == "n" || c == "t" || c == "r" || c == "b" || c == "f") out = out " "
    else out = out c
    s = substr(s, i + 2)
  }
  out = out s
  gsub(/[\t\r\n]/, " ", out)
  return out
}

function trim(s) {
  sub(/^ +/, "", s)
  sub(/ +$/, "", s)
  return s
}

# The path of the value that starts now, inside the innermost open object or array.
function valpath(    seg) {
  if (depth == 0) return ""
  seg = (kind[depth] == "o") ? key[depth] : idx[depth]
  return base[depth] == "" ? seg : base[depth] "/" seg
}

function leaf(v) {
  printf "%s\t%s\n", valpath(), trim(v)
}

{ doc = doc $0 "\n" }

END {
  depth = 0
  rest = doc
  while (1) {
    sub(/^[ \t\r\n]+/, "", rest)
    if (rest == "") break
    c = substr(rest, 1, 1)
    if (c == "{" || c == "[") {
      p = valpath()
      depth++
      kind[depth] = (c == "{") ? "o" : "a"
      base[depth] = p
      key[depth] = ""
      idx[depth] = 0
      wantkey[depth] = (c == "{")
      rest = substr(rest, 2)
    } else if (c == "}" || c == "]") {
      if (depth > 0) depth--
      rest = substr(rest, 2)
    } else if (c == ":") {
      wantkey[depth] = 0
      rest = substr(rest, 2)
    } else if (c == ",") {
      if (kind[depth] == "o") wantkey[depth] = 1
      else idx[depth]++
      rest = substr(rest, 2)
    } else if (c == "\"") {
      if (!match(rest, /^"([^"\\]|\\.)*"/)) break
      s = unescape(substr(rest, 2, RLENGTH - 2))
      rest = substr(rest, RLENGTH + 1)
      if (depth > 0 && kind[depth] == "o" && wantkey[depth]) key[depth] = s
      else leaf(s)
    } else if (match(rest, /^[-+0-9.eEa-zA-Z]+/)) {
      t = substr(rest, 1, RLENGTH)
      rest = substr(rest, RLENGTH + 1)
      if (t != "null") leaf(t)
    } else {
      break
    }
  }
}
