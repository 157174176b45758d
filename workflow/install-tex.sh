#!/usr/bin/env bash
# Install the TeX needed by `snakemake paper_pdf` (paper/main.pdf) from Debian 12 packages, as root.
# pdflatex + graphicx come with texlive-latex-base; booktabs with texlive-latex-recommended
# (≈140 MB installed with texlive-base, texlive-binaries and fonts-lmodern; no docs, no extra
# fonts; about 1.5 min here).  Idempotent.
set -euo pipefail
[[ $(id -u) -eq 0 ]] || { echo "install-tex.sh: run as root (apt-get)" >&2; exit 1; }
pkgs=(texlive-latex-base texlive-latex-recommended)
need=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
pdflatex --version | head -n1
kpsewhich booktabs.sty graphicx.sty geometry.sty caption.sty hyperref.sty >/dev/null \
  || { echo "install-tex.sh: a LaTeX package used by paper/main.tex is missing" >&2; exit 1; }
echo "install-tex.sh: TeX ready"
