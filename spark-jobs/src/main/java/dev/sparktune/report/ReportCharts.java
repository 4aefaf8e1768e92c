package dev.sparktune.report;

import dev.sparktune.train.StepMetrics;
import dev.sparktune.train.Validation;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import java.util.regex.Pattern;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.Marker;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** The report's charts, drawn with XChart into PNG bytes, off screen (no display needed). */
final class ReportCharts {
    /** The names of the files the charts go to; no other file is ever written or removed in their folder. */
    static final Pattern FILES = Pattern.compile("(loss|learning_rate|validation|comparison|confusion-[0-9]+)\\.png");
    private static final int WIDTH = 800;
    private static final int HEIGHT = 400;

    static {
        // AWT picks a display-less toolkit only when told before its first use; the charts never open a window
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private ReportCharts() {
    }

    /**
     * Training loss per logged step, each task's loss when there are several, and the validation loss; null when no
     * step logged a finite loss.
     */
    static ChartImage loss(List<StepMetrics> steps) {
        XYChart chart = lineChart("Training loss", "loss");
        addLine(chart, "train loss", steps, StepMetrics::loss, SeriesMarkers.NONE);
        List<String> tasks = steps.stream().flatMap(s -> s.taskLosses().keySet().stream()).distinct().sorted().toList();
        if (tasks.size() > 1) {
            for (String task : tasks) {
                addLine(chart, "train loss (" + task + ")", steps, s -> s.taskLosses().getOrDefault(task, Double.NaN),
                        SeriesMarkers.NONE);
            }
        }
        List<StepMetrics> validated = steps.stream().filter(StepMetrics::validated).toList();
        if (!validated.isEmpty()) {
            addLine(chart, "validation loss", validated,
                    s -> s.validation().getOrDefault(Validation.LOSS, Double.NaN), SeriesMarkers.CIRCLE);
        }
        return image("loss.png", "Training loss over steps", chart);
    }

    /** The learning rate per logged step; null when none was logged. */
    static ChartImage learningRate(List<StepMetrics> steps) {
        XYChart chart = lineChart("Learning rate", "learning rate");
        chart.getStyler().setYAxisDecimalPattern("0.0E0");
        chart.getStyler().setLegendVisible(false);
        addLine(chart, "learning rate", steps, StepMetrics::learningRate, SeriesMarkers.NONE);
        // XChart's own range over values ~1e-4 gets uneven, overlapping ticks; from 0 to a round top they are even
        double top = steps.stream().mapToDouble(StepMetrics::learningRate).filter(Double::isFinite).max().orElse(0);
        if (top > 0) {
            chart.getStyler().setYAxisMin(0.0);
            chart.getStyler().setYAxisMax(roundUp(top * 1.05));
        }
        return image("learning_rate.png", "Learning rate over steps", chart);
    }

    /** Each validation metric over the validated steps, e.g. {@code validation/spam/accuracy}; null when none is a number. */
    static ChartImage validation(List<StepMetrics> validated, List<String> metrics) {
        XYChart chart = lineChart("Validation metrics", "value");
        for (String metric : metrics) {
            addLine(chart, metric.substring(Validation.LOSS.length() + 1), validated,
                    s -> s.validation().getOrDefault(metric, Double.NaN), SeriesMarkers.CIRCLE);
        }
        return image("validation.png", "Validation metrics over steps", chart);
    }

    /** Rows by true class (rows, top to bottom) and predicted class (columns), each cell annotated with its count. */
    static ChartImage confusion(String file, String task, EvalResults.Confusion confusion) {
        List<String> labels = confusion.labels();
        int size = Math.max(320, Math.min(900, 160 + 90 * labels.size()));
        HeatMapChart chart = new HeatMapChartBuilder().width(size + 140).height(size)
                .title("Confusion matrix: " + task).xAxisTitle("predicted").yAxisTitle("true").build();
        style(chart.getStyler());
        chart.getStyler().setShowValue(true);
        chart.getStyler().setHeatMapValueDecimalPattern("0");
        chart.getStyler().setHeatMapDecimalValueFormatter(v -> String.format(Locale.ROOT, "%.0f", v));
        chart.getStyler().setValueFontColor(Color.BLACK);
        chart.getStyler().setRangeColors(new Color[] {new Color(0xF7FBFF), new Color(0x9ECAE1), new Color(0x4292C6)});
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        // XChart draws the first y category at the bottom: list the true classes reversed so the first is on top
        List<String> rows = new ArrayList<>(labels);
        Collections.reverse(rows);
        List<Number[]> cells = new ArrayList<>();
        long max = 0;
        for (int truth = 0; truth < labels.size(); truth++) {
            for (int predicted = 0; predicted < labels.size(); predicted++) {
                long count = confusion.matrix()[truth][predicted];
                max = Math.max(max, count);
                cells.add(new Number[] {predicted, labels.size() - 1 - truth, count});
            }
        }
        chart.getStyler().setMin(0);
        chart.getStyler().setMax(Math.max(1, max));
        chart.addSeries("rows", labels, rows, cells);
        return image(file, "Confusion matrix of " + task + " (true class by row, predicted by column)", chart);
    }

    /** The fine-tuned model's and the baseline's {@code names}, side by side, one group of bars per metric. */
    static ChartImage comparison(String fineTuned, Map<String, Double> fineTunedMetrics, Baseline baseline,
                                 List<String> names) {
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT)
                .title("Fine-tuned vs " + baseline.name()).yAxisTitle("value").build();
        style(chart.getStyler());
        chart.getStyler().setLabelsVisible(true);
        chart.getStyler().setLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        chart.getStyler().setYAxisMin(0.0);
        chart.getStyler().setYAxisMax(Math.max(1.0, max(fineTunedMetrics, baseline.metrics())));
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
        chart.getStyler().setDecimalPattern("0.000");
        if (names.isEmpty()) {
            return null;
        }
        chart.addSeries(fineTuned, names, names.stream().map(fineTunedMetrics::get).toList());
        chart.addSeries(baseline.name(), names, names.stream().map(baseline.metrics()::get).toList());
        return image("comparison.png", "Fine-tuned model vs " + baseline.name(), chart);
    }

    /** The smallest of 1, 2, 2.5 and 5 times a power of ten that is at least {@code value} (&gt; 0). */
    static double roundUp(double value) {
        double power = Math.pow(10, Math.floor(Math.log10(value)));
        for (double m : new double[] {1, 2, 2.5, 5}) {
            if (m * power >= value) {
                return m * power;
            }
        }
        return 10 * power;
    }

    private static double max(Map<String, Double> a, Map<String, Double> b) {
        Map<String, Double> all = new LinkedHashMap<>(a);
        all.putAll(b);
        return all.values().stream().filter(Double::isFinite).mapToDouble(Double::doubleValue).max().orElse(1.0);
    }

    private static XYChart lineChart(String title, String yAxis) {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle("step")
                .yAxisTitle(yAxis).build();
        style(chart.getStyler());
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
        chart.getStyler().setXAxisDecimalPattern("0");
        chart.getStyler().setMarkerSize(6);
        return chart;
    }

    /**
     * One series of the steps' {@code value}, leaving out steps where it is not a number (a NaN loss); none when no
     * step has a number.
     */
    private static void addLine(XYChart chart, String name, List<StepMetrics> steps,
                                ToDoubleFunction<StepMetrics> value, Marker marker) {
        List<Double> x = new ArrayList<>();
        List<Double> y = new ArrayList<>();
        for (StepMetrics s : steps) {
            double v = value.applyAsDouble(s);
            if (Double.isFinite(v)) {
                x.add((double) s.step());
                y.add(v);
            }
        }
        if (!x.isEmpty()) {
            chart.addSeries(name, x, y).setMarker(marker);
        }
    }

    private static void style(Styler styler) {
        styler.setChartBackgroundColor(Color.WHITE);
        styler.setPlotBackgroundColor(Color.WHITE);
        styler.setLegendBorderColor(Color.LIGHT_GRAY);
        styler.setChartTitleBoxBackgroundColor(Color.WHITE);
        styler.setAntiAlias(true);
    }

    /** The chart as PNG; null for a chart without series (nothing to draw). */
    private static ChartImage image(String file, String alt, Chart<?, ?> chart) {
        if (chart.getSeriesMap().isEmpty()) {
            return null;
        }
        try {
            return new ChartImage(file, alt, BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot draw " + file + ": " + e.getMessage(), e);
        }
    }
}
