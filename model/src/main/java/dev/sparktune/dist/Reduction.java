package dev.sparktune.dist;

/** How a reduction combines the ranks' values: their sum, or their sum divided by the world size. */
public enum Reduction {
    SUM,
    AVERAGE
}
