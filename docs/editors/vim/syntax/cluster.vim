" Vim syntax file for the .cluster language (clusterc(5)).
" The keyword and unit lists follow grammar/clusterc.l; tests/docs checks them.
if exists('b:current_syntax')
  finish
endif

syn keyword clusterKeyword import
syn keyword clusterBoolean true false
syn keyword clusterFunction env secret file
syn match clusterComment "#.*$"
syn region clusterString start=+"+ skip=+\\\\\|\\"+ end=+"+ contains=clusterEscape oneline
syn match clusterEscape +\\[\\"nt]+ contained
syn match clusterAddress "\<\d\+\.\d\+\.\d\+\.\d\+\(/\d\+\|:\d\+\)\?\>"
" units: K M G T KiB MiB GiB TiB s m h
syn match clusterNumber "\<\d\+\(KiB\|MiB\|GiB\|TiB\|K\|M\|G\|T\|s\|m\|h\)\?\>"
syn match clusterBlock "^\s*\zs[A-Za-z_][A-Za-z0-9_-]*\ze\s\+\([A-Za-z_][A-Za-z0-9_-]*\s*\)\?{"
syn match clusterAttribute "\<[A-Za-z_][A-Za-z0-9_-]*\ze\s*="

hi def link clusterKeyword Include
hi def link clusterBoolean Boolean
hi def link clusterFunction Function
hi def link clusterComment Comment
hi def link clusterString String
hi def link clusterEscape SpecialChar
hi def link clusterAddress Constant
hi def link clusterNumber Number
hi def link clusterBlock Structure
hi def link clusterAttribute Identifier

let b:current_syntax = 'cluster'
