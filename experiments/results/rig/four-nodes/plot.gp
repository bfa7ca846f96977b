# gnuplot plot.gp: the four-node rig (results.csv): B's pages local to
# B's node in farthest and largest, the least local thread chunk in
# threads, per host THP setting and configuration.
set terminal pngcairo size 900,500
set output 'locality.png'
set datafile separator ','
set title 'Rig, 4 emulated nodes: B local (threads: least local chunk)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'pages local (%)'
set yrange [90:100.5]
set arrow from graph 0, first 99 to graph 1, first 99 nohead dt 2
set label 'target 99%' at graph 0.99, first 98.7 right
set xtics rotate by -20
set key below
plot '< tail -n +2 results.csv | sort -t, -k2,2 -k1,1 -k3,3' \
     using ($12*100):xtic(stringcolumn(2)." ".stringcolumn(1)." (".stringcolumn(3).")") title 'after touch', \
     '' using ($13*100) title 'after the hold'
