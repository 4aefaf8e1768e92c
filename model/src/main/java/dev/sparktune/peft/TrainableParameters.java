package dev.sparktune.peft;

/** How many parameters train out of all of them, base and added; printed as PEFT prints it. */
public record TrainableParameters(long trainable, long all) {

    public double percent() {
        return all == 0 ? 0 : 100.0 * trainable / all;
    }

    @Override
    public String toString() {
        return String.format("trainable params: %,d || all params: %,d || trainable%%: %.4f", trainable, all, percent());
    }
}
