from stereofix.entry import main

main()
