from stereofix.cli import main

main()
